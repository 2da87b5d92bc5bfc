from tests.timetable_data import kuopio_demo, kuopio_zip

__all__ = ["kuopio_demo", "kuopio_zip"]
