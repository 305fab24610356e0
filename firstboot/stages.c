/* The stage table: the order is the data flow of DESIGN.md's first-boot agent. */
#include <string.h>

#include "stages.h"

const struct stage agent_stages[] = {
	{ "identity", "host name and /etc/hosts", stage_identity },
	{ "user", "rig user, sudo, authorized_keys, password", stage_user },
	{ "sshd", "host keys, key-only drop-in checked with sshd -t, reload", stage_sshd },
	{ "packages", "[Packages] Install= from the rig's offline repository", stage_packages },
	{ "grow-root", "grow the root partition and file system to the disk's end", stage_grow_root },
	{ "wake-on-lan", "Wake-on-LAN on the wired interface, now and persistently", stage_wol },
	{ "firewall", "inbound closed except SSH: ufw, else an nftables table", stage_firewall },
	{ "port-forward", "the router's mapping of the SSH port (UPnP or NAT-PMP)", stage_port_forward },
	{ "ddns", "dynamic DNS: the first update; mlrig-ddns.timer the next", stage_ddns },
	{ "gpu", "NVIDIA driver, CUDA and cuDNN payload", stage_gpu },
	{ "python", "venv with the requirements, shell shortcuts", stage_python },
	{ "jupyter", "Jupyter service's token, its Python checked", stage_jupyter },
	{ "boot-order", "GRUB defaults and the EFI BootOrder", stage_boot_order },
	{ "summary", "report.json, motd and the completion line", stage_summary },
};
const size_t agent_n_stages = ELEMENTSOF(agent_stages);

const struct stage *stage_find(const char *name) {
	for (size_t i = 0; i < agent_n_stages; i++)
		if (strcmp(agent_stages[i].name, name) == 0)
			return &agent_stages[i];
	return NULL;
}
