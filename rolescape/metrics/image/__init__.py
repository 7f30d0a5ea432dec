"""Image metric families (benchmark-protocol.md, "Image metrics"), resolved lazily by
`rolescape.metrics.registry.FAMILIES`:

* `image_identity` (identity.py): clip_i, clip_i_gt, dino, dino_max, paper_dino_penalty, face_sim,
  no_face; offline: effnet_i, effnet_i_gt, dlib_face_sim, dlib_no_face
* `image_text` (alignment.py): clip_t, paper_clip_t, xmodal
* `vqa` (vqa.py): paper_vqa, vqa
* `diversity` (diversity.py): lpips_div
* `paper_reward` (reward.py): paper_reward, derived from the four paper components

Every encoder composites transparency onto white first (`--alpha paper`: plain convert("RGB"), for
generated and reference images alike). An item with several images scores the mean over them.
"""
