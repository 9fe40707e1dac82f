"""The annotation pipeline's back half: raw detector/keypoint/SMPL outputs -> label trees -> hard cases ->
optimized Foot and Hand labels (``hardmo-hf pipeline ingest|mine|optimize``, see ``docs/pipeline.md``).

Modules: :mod:`.tracks`, :mod:`.mmpose_json`, :mod:`.hmr2_predictions` (readers), :mod:`.association`,
:mod:`.labels`, :mod:`.ingest`; :mod:`.kinematics` (SMPL keypoints without the mesh), :mod:`.camera`,
:mod:`.priors`, :mod:`.fitting` (batched optimization), :mod:`.mining`, :mod:`.optimize`; :mod:`.tasks`
(datatrove execution) and :mod:`.config` (settings).
"""
