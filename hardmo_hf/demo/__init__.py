"""The HardMo demo: a Gradio app (and Hugging Face Space) around HardMo-4DHumans and HardMo-HMR.

Modules: ``app`` (the Gradio Blocks and request handlers), ``engine`` (detector + models per frame),
``render`` (CPU z-buffer mesh renderer), ``export`` (GLB, JSON, NPZ), ``inputs`` (upload normalization and
box parsing), ``video`` (clip reading, overlay video), ``examples`` (drawn gallery), ``config``
(environment variables), ``space`` (the Space folder), ``zerogpu`` (``spaces.GPU`` shim).
Gradio is imported only by ``app``, so the renderer and exporters work without it.
"""
