@_exported import MechanicTensor
@_exported import MechanicIO
@_exported import MechanicTokenizers
