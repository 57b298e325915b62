-- A strategy discussion's answer to a consideration is saved again when its page is saved again
-- (INSERT ... ON CONFLICT DO UPDATE), which needs UPDATE.
GRANT UPDATE ON strategy_considerations TO haven_app;
