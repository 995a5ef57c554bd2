import Mechanic
