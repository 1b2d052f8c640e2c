-- title: Top orders of the month
-- description: The ten largest orders in a month (February 2025 by default).
-- chart: bar x=order_id y=order_amount
-- param: month default=2025-02 pattern=^[0-9]{4}-(0[1-9]|1[0-2])$ help=Month as YYYY-MM
-- A date range rather than DATE_FORMAT(order_date, '%Y-%m') = :month lets the engine skip row groups
-- (and lets Athena prune partitions); both give the same rows.
SELECT order_id, customer_id, order_amount, order_status, order_date
FROM orders_processed
WHERE order_date >= CAST(:month || '-01' AS DATE)
  AND order_date < CAST(:month || '-01' AS DATE) + INTERVAL '1' MONTH
ORDER BY order_amount DESC, order_id
LIMIT 10;
