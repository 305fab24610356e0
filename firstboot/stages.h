/* The agent's stages, in the order they run; each is idempotent. */
#pragma once

#include "agent.h"

struct stage {
	const char *name;
	const char *what;
	int (*run)(struct agent *a);
};

extern const struct stage agent_stages[];
extern const size_t agent_n_stages;
const struct stage *stage_find(const char *name);

int stage_identity(struct agent *a);
int stage_user(struct agent *a);
int stage_sshd(struct agent *a);
int stage_packages(struct agent *a);
int stage_grow_root(struct agent *a);
int stage_wol(struct agent *a);
int stage_firewall(struct agent *a);
int stage_port_forward(struct agent *a);
int stage_ddns(struct agent *a);
int stage_gpu(struct agent *a);
int stage_python(struct agent *a);
int stage_jupyter(struct agent *a);
int stage_boot_order(struct agent *a);
/* boot-order's EFI half: the rig's own Boot#### created or repaired and placed in BootOrder, over
 * the efivarfs directory efivars and the ESP esp (NULL: the one mounted at /boot/efi). The stage
 * runs it on a live UEFI system; tests point it at a tree. *ret_what says what it did. */
struct efi_partition;
int stage_boot_order_efi(struct agent *a, const char *efivars, const struct efi_partition *esp, char **ret_what);
int stage_summary(struct agent *a);
