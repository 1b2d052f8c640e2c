-- title: Monthly order volume
-- description: Orders and revenue per calendar month.
-- chart: line x=order_month y=order_count,total_revenue
SELECT DATE_FORMAT(order_date, '%Y-%m') AS order_month,
       COUNT(*) AS order_count,
       SUM(order_amount) AS total_revenue
FROM orders_processed
GROUP BY DATE_FORMAT(order_date, '%Y-%m')
ORDER BY order_month;
