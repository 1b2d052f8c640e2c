-- title: Order status summary
-- description: How many processed orders are in each status, and their value.
-- chart: donut x=order_status y=order_count
SELECT order_status, COUNT(*) AS order_count, SUM(order_amount) AS total_amount
FROM orders_processed
GROUP BY order_status
ORDER BY order_count DESC, order_status;
