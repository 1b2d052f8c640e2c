"""The "Glue" stage: the catalog and its crawler.

- :mod:`lakebox.catalog.base`: the ``Catalog`` interface (Glue's actions) and its errors;
- :mod:`lakebox.catalog.crawler`: the crawler's decisions, pure (schemas, partitions, table names);
- :mod:`lakebox.catalog.local` / :mod:`lakebox.catalog.glue`: the SQLite and AWS Glue backends;
- :mod:`lakebox.catalog.files`: reading footers and CSV samples (DuckDB);
- :mod:`lakebox.catalog.crawl`: the one update path, ``CatalogUpdater.update_for_run``, and ``open_catalog``.
"""
