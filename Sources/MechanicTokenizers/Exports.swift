// MechanicTokenizers: byte-level BPE (vocab.json + merges.txt), tokenizer.json (BPE with byte
// fallback, normalizers, pre-tokenizers, added tokens, post-processors, decoders) and
// SentencePiece models, matching Hugging Face token for token. JSON comes from MechanicJSON.

@_exported import MechanicJSON
