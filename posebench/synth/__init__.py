"""Embedded synthetic multi-view benchmark (`--dataset synth`): procedural or imported motion,
Human3.6M / ring / moving camera rigs, z-buffered capsule renderer, canonical-format writer.

Modules: body (kinematic H36M-17 body), motions (primitives and actions), mocap (BVH, ASF/AMC,
npz, DeepMimic readers), rig (cameras), render (crops), build (splits and `build_default`).
"""
