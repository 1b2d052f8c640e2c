-- title: Average order value by customer
-- description: Mean order amount per customer, with the number of orders behind it.
-- chart: bar x=customer_id y=average_order_value
SELECT customer_id, AVG(order_amount) AS average_order_value, COUNT(*) AS order_count
FROM orders_processed
GROUP BY customer_id
ORDER BY average_order_value DESC, customer_id;
