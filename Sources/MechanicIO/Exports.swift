@_exported import MechanicJSON
