-- Open deadlines are counted on every page (the navigation's "overdue" counts) and listed on the
-- dashboards by index-only scans, which are only index-only where the visibility map marks the
-- rows' pages all-visible. By default autovacuum waits for a fifth of a table to change: at a
-- million cases (3 million deadlines) that is 600,000 changes, months of a region's work, and
-- until then each count of up to 100 overdue deadlines visits 100 heap pages (106 buffers and
-- about 1 ms against 7 buffers and 0.2 ms once vacuumed, measured at a million cases). Vacuum
-- deadlines after a hundredth of it changes instead; a vacuum skips the pages already marked.
ALTER TABLE deadlines SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_insert_scale_factor = 0.01);
