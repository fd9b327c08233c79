"""Facts about the TUT Urban Acoustic Scenes 2018 releases shared by the Task 1 corpus scripts."""

# classes.txt order (alphabetical, fixed): the column order of every Task 1 score file.
SCENES = ("airport", "bus", "metro", "metro_station", "park", "public_square", "shopping_mall",
          "street_pedestrian", "street_traffic", "tram")

# Development-set release folder per subtask (subtask c uses the subtask a data).
RELEASE_NAMES = {"a": "TUT-urban-acoustic-scenes-2018-development",
                 "b": "TUT-urban-acoustic-scenes-2018-mobile-development"}

# Recording devices each subtask's development set may contain.
DEVICES = {"a": ("a",), "b": ("a", "b", "c"), "c": ("a",)}
