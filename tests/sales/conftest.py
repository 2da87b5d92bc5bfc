from tests.sales.live import live, live_db, live_key, live_url
from tests.timetable_data import kuopio_zip

__all__ = ["kuopio_zip", "live", "live_db", "live_key", "live_url"]
