/* Stage gpu: its own issue fills it in. Until then a profile that asks for it
 * is told so, and the rest of the rig is finalised. */
#include "stages.h"

int stage_gpu(struct agent *a) {
	if (!a->p->gpu_driver && !a->p->gpu_cuda)
		agent_note(a, "skipped: no [GPU] Driver or CUDA");
	else
		agent_note(a, "skipped: the GPU stack is not handled by this mlrig version yet");
	return 0;
}
