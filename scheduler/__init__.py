"""The ladder timer: APScheduler arms what is due soon; the database ledger says what is due."""
