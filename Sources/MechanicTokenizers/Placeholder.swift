// Byte-level BPE and tokenizer.json tokenizers (see Tokenizer.swift).
