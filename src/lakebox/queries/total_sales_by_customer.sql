-- title: Total sales by customer
-- description: What each customer has spent on orders that survived processing, highest first.
-- chart: bar x=customer_id y=total_sales
SELECT customer_id, SUM(order_amount) AS total_sales
FROM orders_processed
GROUP BY customer_id
ORDER BY total_sales DESC, customer_id;
