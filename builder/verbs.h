/* The builder's commands; each file verb-NAME.c defines one, with its own options and help. */
#pragma once

#include "cli.h"

extern const struct cli_verb verb_check;
extern const struct cli_verb verb_image;
extern const struct cli_verb verb_inspect;
extern const struct cli_verb verb_boot;
extern const struct cli_verb verb_flash;
extern const struct cli_verb verb_fetch;
extern const struct cli_verb verb_iso;
extern const struct cli_verb verb_wake;
extern const struct cli_verb verb_client;

#include "profile.h"

/* Loads -p PROFILE for a verb's run(): 0, or EXIT_USAGE once it has said why
 * (the file and line, or the system's reason). */
int verb_load_profile(const char *path, Profile **ret);

struct gpu_plan;
/* [GPU] for image and iso, before anything is written: the payload read and checked (said
 * under the verb's name), and *ret_names the packages Install= gains. 0, EXIT_USAGE once said
 * for a payload that cannot be used, or -errno (logged). */
int verb_gpu_plan(const char *verb, const Profile *p, struct gpu_plan *gpu, char ***ret_names);

/* The laptop's files for the rig RIG, kept by 'mlrig client' and read by 'mlrig
 * wake': ${XDG_CONFIG_HOME:-~/.config}/mlrig/RIG. */
int verb_client_dir(const char *rig, char **ret);
/* The shortcuts' prefix for the rig: its host name with '_' for '-' (a shell function name). */
char *verb_shortcut_prefix(const char *rig);
/* The user's home: $HOME, else the password database's. */
int verb_home(char **ret);
/* In the client dir: the MAC the rig reported (its /var/lib/mlrig/wol-mac),
 * saved by the shortcuts, for when the profile has no [WakeOnLan] MAC=. */
#define CLIENT_WOL_MAC_FILE "wol-mac"

/* The manifest mlrig image writes next to its output: IMAGE.json, or IMAGE with
 * .img/.raw/.iso replaced. 1 and its path and text, 0 when there is none (or
 * path is not a regular file), -errno once it has said why it cannot be read. */
int verb_find_manifest(const char *path, char **ret_path, char **ret_data);
/* Removes and names the temp files killed runs left next to output (output_remove_stale()). */
void output_say_stale(const char *output);
