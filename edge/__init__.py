"""Sign2Sound Edge: ASL fingerspelling to speech on a Raspberry Pi."""
