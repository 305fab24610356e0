/* Stage ddns: the first check-and-update cycle. mlrig-ddns.timer (laid and enabled by the
 * builder when the profile has a provider) runs the next ones, `mlrig-firstboot ddns`. */
#include <string.h>

#include "ddns.h"
#include "stages.h"

int stage_ddns(struct agent *a) {
	_cleanup_(ddns_report_release) struct ddns_report rep = {};
	int r;

	if (a->p->ddns_provider == DDNS_NONE) {
		agent_note(a, "skipped: no [DDNS] Provider");
		return 0;
	}
	r = ddns_cycle(a, false, &rep);
	if (r < 0)
		return agent_fail(a, r, "DDNS for %s: %s", a->p->ddns_hostname, strerror(-r));
	/* a provider that fails does not stop the first boot: the timer tries again, status says why */
	agent_note(a, "%s: %s%s%s; mlrig-ddns.timer checks every %u min%s%s", a->p->ddns_hostname,
		   rep.summary ? rep.summary : "nothing to do", rep.failed ? " (" : "", rep.failed ? "see 'mlrig-firstboot status')" : "",
		   a->p->ddns_interval, a->p->ddns_provider == DDNS_NOIP ? "; " : "",
		   a->p->ddns_provider == DDNS_NOIP ? DDNS_NOIP_FREE_NOTE : "");
	return 0;
}
