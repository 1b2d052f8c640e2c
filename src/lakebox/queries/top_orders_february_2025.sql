-- title: Top orders of the month
-- description: The ten largest orders in a month (February 2025 by default).
-- chart: bar x=order_id y=order_amount
-- param: month default=2025-02 pattern=^[0-9]{4}-(0[1-9]|1[0-2])$ help=Month as YYYY-MM
SELECT order_id, customer_id, order_date, order_amount, order_status
FROM orders_processed
WHERE DATE_FORMAT(order_date, '%Y-%m') = :month
ORDER BY order_amount DESC, order_id
LIMIT 10;
