"""Backends turn the IR or a lowered program into artifacts: .tflite files, C source folders."""
