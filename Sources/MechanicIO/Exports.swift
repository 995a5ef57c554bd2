// MechanicIO: files in and out. safetensors (mmap reader with a validated header, writer),
// Checkpoint (single file or sharded index), ModelResolver (local dir, Hugging Face cache, hub
// download, aliases), InputFile/OutputFile (every read and write of a user path), the progress bar.
// JSON comes from MechanicJSON, re-exported here.

@_exported import MechanicJSON
