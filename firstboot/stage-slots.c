/* Stages ddns and gpu: their own issues fill them in. Until then a profile
 * that asks for them is told so, and the rest of the rig is finalised. */
#include "stages.h"

int stage_ddns(struct agent *a) {
	if (a->p->ddns_provider == DDNS_NONE)
		agent_note(a, "skipped: no [DDNS] Provider");
	else
		agent_note(a, "skipped: [DDNS] Provider=%s is not handled by this mlrig version yet",
			   ddns_provider_to_string(a->p->ddns_provider));
	return 0;
}

int stage_gpu(struct agent *a) {
	if (!a->p->gpu_driver && !a->p->gpu_cuda)
		agent_note(a, "skipped: no [GPU] Driver or CUDA");
	else
		agent_note(a, "skipped: the GPU stack is not handled by this mlrig version yet");
	return 0;
}
