from tests.sales.live import live, live_db, live_key, live_url
from tests.timetable_data import kuopio_demo, kuopio_zip

__all__ = ["kuopio_demo", "kuopio_zip", "live", "live_db", "live_key", "live_url"]
