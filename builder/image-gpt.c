/* Writes the image's GPT with libfdisk, which, unlike libparted, lets us set
 * the disk and partition GUIDs, so the same seed gives the same table. */
#include <errno.h>
#include <string.h>

#include "fdisk-util.h"
#include "image-gpt.h"
#include "log.h"
#include "parse-util.h"

int gpt_write(const char *path, const uint8_t disk_guid[16], const struct gpt_part *parts, unsigned n) {
	_cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = NULL;
	struct fdisk_label *lb;
	char guid[37];
	int r;

	cxt = fdisk_new_context();
	if (!cxt)
		return -ENOMEM;
	fdisk_disable_dialogs(cxt, 1);
	r = fdisk_to_errno(fdisk_assign_device(cxt, path, 0));
	if (r < 0)
		return log_debug_errno(r, "fdisk: cannot open %s: %m", path);
	r = fdisk_to_errno(fdisk_create_disklabel(cxt, "gpt"));
	if (r < 0)
		return log_debug_errno(r, "fdisk: cannot create a GPT on %s: %m", path);
	uuid_format(disk_guid, guid);
	r = fdisk_to_errno(fdisk_set_disklabel_id_from_string(cxt, guid));
	if (r < 0)
		return log_debug_errno(r, "fdisk: cannot set disk GUID: %m");
	lb = fdisk_get_label(cxt, NULL);

	/* libfdisk shrinks a partition that does not fit instead of refusing it */
	for (unsigned i = 0; i < n; i++) {
		unsigned long ss = fdisk_get_sector_size(cxt);
		uint64_t first = parts[i].start / ss, last = first + parts[i].size / ss - 1;

		if (parts[i].start % ss || parts[i].size % ss || parts[i].size == 0 || first < fdisk_get_first_lba(cxt) ||
		    last > fdisk_get_last_lba(cxt))
			return log_debug_errno(ERANGE, "fdisk: partition %s (sectors %llu-%llu) does not fit %s (usable %llu-%llu)",
					       parts[i].name, (unsigned long long)first, (unsigned long long)last, path,
					       (unsigned long long)fdisk_get_first_lba(cxt),
					       (unsigned long long)fdisk_get_last_lba(cxt));
	}
	for (unsigned i = 0; i < n; i++) {
		_cleanup_(fdisk_unref_partitionp) struct fdisk_partition *pa = fdisk_new_partition();
		struct fdisk_parttype *type;
		unsigned long ss = fdisk_get_sector_size(cxt);

		if (!pa)
			return -ENOMEM;
		type = fdisk_label_get_parttype_from_string(lb, parts[i].type);
		if (!type)
			return -EINVAL;
		uuid_format(parts[i].uuid, guid);
		if ((r = fdisk_partition_set_partno(pa, i)) < 0 ||
		    (r = fdisk_partition_set_start(pa, parts[i].start / ss)) < 0 ||
		    (r = fdisk_partition_set_size(pa, parts[i].size / ss)) < 0 ||
		    (r = fdisk_partition_set_type(pa, type)) < 0 ||
		    (r = fdisk_partition_set_uuid(pa, guid)) < 0 ||
		    (r = fdisk_partition_set_name(pa, parts[i].name)) < 0)
			return fdisk_to_errno(r);
		fdisk_unref_parttype(type);
		r = fdisk_to_errno(fdisk_add_partition(cxt, pa, NULL));
		if (r < 0)
			return log_debug_errno(r, "fdisk: cannot add partition %s: %m", parts[i].name);
	}
	r = fdisk_to_errno(fdisk_write_disklabel(cxt));
	if (r < 0)
		return log_debug_errno(r, "fdisk: cannot write the GPT to %s: %m", path);
	return fdisk_to_errno(fdisk_deassign_device(cxt, 0));
}
