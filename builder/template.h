/* @NAME@ substitution for overlay and GRUB templates. */
#pragma once

struct template_var {
	const char *name;
	const char *value;
};

/* Renders text; an unknown @NAME@ is an error naming source:line (in *ret_error). */
int template_render(const char *source, const char *text, const struct template_var *vars, unsigned n_vars,
		    char **ret, char **ret_error);
