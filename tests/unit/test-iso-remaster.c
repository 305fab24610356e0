/* Unit tests for mlrig iso's pure parts: iso-media.c (flavour, menus, md5sum.txt), iso-bootrec.c (reports, layout). */
#include <errno.h>

#include "iso-bootrec.h"
#include "iso-media.h"
#include "macro.h"
#include "test.h"

TEST(flavour) {
	struct media_flavour f;

	ASSERT_OK(media_detect_flavour("Ubuntu-Server 20.04.6 LTS \"Focal Fossa\" - Release amd64 (20230316)", false,
				       &f));
	ASSERT_STREQ(f.product, "Ubuntu-Server");
	ASSERT_STREQ(f.release, "20.04.6");
	ASSERT_EQ(f.installer, MEDIA_INSTALLER_SUBIQUITY);
	ASSERT_OK(media_detect_flavour("Ubuntu 20.04.6 LTS \"Focal Fossa\" - Release amd64 (20230316)", true, &f));
	ASSERT_EQ(f.installer, MEDIA_INSTALLER_UBIQUITY);
	/* a server tree with a preseed/ directory is still subiquity */
	ASSERT_OK(media_detect_flavour("Ubuntu-Server 22.04.4 LTS \"Jammy Jellyfish\" - Release amd64 (20240216)", true,
				       &f));
	ASSERT_EQ(f.installer, MEDIA_INSTALLER_SUBIQUITY);
	ASSERT_EQ(media_detect_flavour("Debian GNU/Linux 12", false, &f), -EMEDIUMTYPE);
	ASSERT_EQ(media_detect_flavour("Ubuntu-Server LTS", false, &f), -EMEDIUMTYPE);
	ASSERT_EQ(media_detect_flavour("", false, &f), -EMEDIUMTYPE);
}

static char *focal_sa[] = {
	"System area options: 0x00000102",
	"System area summary: MBR isohybrid cyl-align-on GPT APM",
	"ISO image size/512 : 26624",
	"Partition offset   : 0",
	"MBR heads per cyl  : 64",
	"MBR secs per head  : 32",
	"MBR partition      :   1   0x80  0x00            0        26624",
	"MBR partition      :   2   0x00  0xef          156         8192",
	"GPT disk GUID      :      3230323330333146b130303230303030",
	"GPT partname local :   1  ISOHybrid",
	"GPT type GUID      :   1  a2a0d0ebe5b9334487c068b6b72699c7",
	"GPT start and size :   1  0  26568",
	"GPT partname local :   2  ISOHybrid1",
	"GPT type GUID      :   2  a2a0d0ebe5b9334487c068b6b72699c7",
	"GPT start and size :   2  156  8192",
	"GPT partition path :   2  /boot/grub/efi.img",
	"APM block size     :      2048",
	"APM partition path :   1  /boot/grub/efi.img",
};
static char *focal_et[] = {
	"El Torito catalog  : 38  1",
	"El Torito cat path : /isolinux/boot.cat",
	"El Torito images   :   N  Pltf  B   Emul  Ld_seg  Hdpt  Ldsiz         LBA",
	"El Torito boot img :   1  BIOS  y   none  0x0000  0x00      4        2087",
	"El Torito boot img :   2  UEFI  y   none  0x0000  0x00   8192          39",
	"El Torito img path :   1  /isolinux/isolinux.bin",
	"El Torito img opts :   1  boot-info-table isohybrid-suitable",
	"El Torito img path :   2  /boot/grub/efi.img",
};
static char *jammy_sa[] = {
	"System area options: 0x00004201",
	"System area summary: MBR protective-msdos-label grub2-mbr cyl-align-off GPT",
	"Partition offset   : 16",
	"MBR partition      :   1   0x00  0xee            1        26135",
	"MBR partition      :   2   0x80  0x00            0            1",
	"GPT disk GUID      :      3230323430323146b130303230303030",
	"GPT partname local :   1  ISO9660",
	"GPT type GUID      :   1  a2a0d0ebe5b9334487c068b6b72699c7",
	"GPT start and size :   1  64  17216",
	"GPT partname local :   2  Appended2",
	"GPT type GUID      :   2  28732ac11ff8d211ba4b00a0c93ec93b",
	"GPT start and size :   2  17280  8192",
};
static char *jammy_et[] = {
	"El Torito cat path : /boot.catalog",
	"El Torito boot img :   1  BIOS  y   none  0x0000  0x00      4          71",
	"El Torito boot img :   2  UEFI  y   none  0x0000  0x00   8192        4320",
	"El Torito img path :   1  /boot/grub/i386-pc/eltorito.img",
	"El Torito img opts :   1  boot-info-table grub2-boot-info",
	"El Torito img blks :   2  2048",
};

TEST(boot_report_focal) {
	struct boot_records b;
	enum media_layout l;

	ASSERT_OK(boot_records_parse(focal_sa, ELEMENTSOF(focal_sa), focal_et, ELEMENTSOF(focal_et), &b));
	ASSERT_EQ(b.sa_options, 0x102);
	ASSERT_EQ(b.n_entries, 2);
	ASSERT_STREQ(b.catalog_path, "/isolinux/boot.cat");
	ASSERT_STREQ(b.entries[0].path, "/isolinux/isolinux.bin");
	ASSERT_TRUE(b.entries[0].boot_info_table);
	ASSERT_EQ(b.entries[1].platform, 0xef);
	ASSERT_EQ(b.entries[1].load_size, 8192);
	ASSERT_EQ(b.entries[1].gpt_mention, 1);
	ASSERT_TRUE(b.entries[1].apm_mention);
	ASSERT_EQ(b.mbr_part1_type, 0);
	ASSERT_EQ(b.heads_per_cyl, 64);
	ASSERT_EQ(b.apm_block_size, 2048);
	ASSERT_EQ(b.n_appended, 0);
	ASSERT_OK(media_detect_layout(&b, &l, NULL));
	ASSERT_EQ(l, MEDIA_LAYOUT_ISOLINUX);
	boot_records_release(&b);
}

TEST(boot_report_jammy) {
	struct boot_records b;
	enum media_layout l;

	ASSERT_OK(boot_records_parse(jammy_sa, ELEMENTSOF(jammy_sa), jammy_et, ELEMENTSOF(jammy_et), &b));
	ASSERT_EQ(b.partition_offset, 16);
	ASSERT_TRUE(b.mbr_active);
	ASSERT_TRUE(b.have_gpt_iso_type);
	ASSERT_EQ(b.n_appended, 1);
	ASSERT_EQ(b.appended[0].number, 2);
	ASSERT_EQ(b.appended[0].start, 17280);
	ASSERT_EQ(b.appended[0].type_guid[0], 0x28);
	ASSERT_TRUE(b.entries[1].path == NULL);
	ASSERT_EQ(b.entries[1].appended, 2);
	ASSERT_TRUE(b.entries[0].grub2_boot_info);
	ASSERT_OK(media_detect_layout(&b, &l, NULL));
	ASSERT_EQ(l, MEDIA_LAYOUT_GRUB);
	boot_records_release(&b);
}

/* 22.04 grown in place (xorriso -dev adds a session): the volume now ends past
 * the ESP, which libisofs calls a hidden El Torito image, and the GPT still
 * says ISO9660 + Appended2 at the old places. xorriso's replay fails on this
 * ("Overlapping GPT entries" when growing again, the UEFI entry dropped when
 * writing anew); we must still see the ESP as appended partition 2. */
static char *grown_sa[] = {
	"System area options: 0x00004a00",
	"System area summary: MBR grub2-mbr cyl-align-off GPT",
	"ISO image size/512 : 26364",
	"Partition offset   : 16",
	"MBR partition      :   1   0x00  0xee            1        26135",
	"MBR partition      :   2   0x80  0x00            0            1",
	"GPT disk GUID      :      3230323430323146b130303230303030",
	"GPT partname local :   1  ISO9660",
	"GPT type GUID      :   1  a2a0d0ebe5b9334487c068b6b72699c7",
	"GPT start and size :   1  64  17216",
	"GPT partname local :   2  Appended2",
	"GPT type GUID      :   2  28732ac11ff8d211ba4b00a0c93ec93b",
	"GPT start and size :   2  17280  8192",
	"GPT partname local :   3  Gap1",
	"GPT type GUID      :   3  a2a0d0ebe5b9334487c068b6b72699c7",
	"GPT start and size :   3  25472  600",
};

TEST(boot_report_jammy_grown) {
	struct boot_records b;
	enum media_layout l;

	ASSERT_OK(boot_records_parse(grown_sa, ELEMENTSOF(grown_sa), jammy_et, ELEMENTSOF(jammy_et), &b));
	ASSERT_EQ(b.image_size, 26364);
	ASSERT_EQ(b.n_appended, 1); /* the Gap is not a partition to copy */
	ASSERT_EQ(b.appended[0].number, 2);
	ASSERT_EQ(b.appended[0].start, 17280);
	ASSERT_EQ(b.appended[0].size, 8192);
	ASSERT_TRUE(b.appended[0].start + b.appended[0].size < b.image_size); /* inside the grown volume */
	ASSERT_EQ(b.entries[1].appended, 2);
	ASSERT_TRUE(b.have_gpt_iso_type);
	ASSERT_OK(media_detect_layout(&b, &l, NULL));
	ASSERT_EQ(l, MEDIA_LAYOUT_GRUB);
	boot_records_release(&b);
}

TEST(boot_layout_unknown) {
	struct boot_records b;
	enum media_layout l;
	char *found = NULL;

	/* GRUB for BIOS but no GRUB2 MBR: not a layout we rebuild */
	ASSERT_OK(boot_records_parse(focal_sa, 1, jammy_et, ELEMENTSOF(jammy_et), &b));
	ASSERT_EQ(media_detect_layout(&b, &l, &found), -EMEDIUMTYPE);
	ASSERT_CONTAINS(found, "BIOS /boot/grub/i386-pc/eltorito.img");
	ASSERT_CONTAINS(found, "UEFI block 4320");
	ASSERT_CONTAINS(found, "system area");
	free(found);
	boot_records_release(&b);
	ASSERT_OK(boot_records_parse(NULL, 0, NULL, 0, &b));
	found = NULL;
	ASSERT_EQ(media_detect_layout(&b, &l, &found), -EMEDIUMTYPE);
	ASSERT_CONTAINS(found, "no El Torito boot entries");
	free(found);
	boot_records_release(&b);
}

/* Malformed report lines are not half-read: a GUID with a non-hex digit or
 * one word too long is no GUID, a missing platform column no platform, and
 * the system area summary is kept whole for the message. */
TEST(boot_report_malformed) {
	static char long_summary[300];
	char *sa[] = {
		"System area options: 0x00004201",
		long_summary,
		"GPT partname local :   1  ISO9660",
		"GPT type GUID      :   1  a2a0d0ebe5b9334487c068b6b72699cg",
		"GPT partname local :   2  Appended2",
		"GPT type GUID      :   2  28732ac11ff8d211ba4b00a0c93ec93b28732ac11ff8d211ba4b00a0c93ec93b00",
		"GPT start and size :   2  17280  8192",
	};
	char *et[] = {
		"El Torito boot img :   1",
		"El Torito img path :   1  /boot/grub/i386-pc/eltorito.img",
	};
	struct boot_records b;
	enum media_layout l;
	char *found = NULL;

	snprintf(long_summary, sizeof(long_summary), "System area summary: MBR %0250d end", 0);
	ASSERT_OK(boot_records_parse(sa, ELEMENTSOF(sa), et, ELEMENTSOF(et), &b));
	ASSERT_TRUE(!b.have_gpt_iso_type);
	ASSERT_EQ(b.n_appended, 1);
	ASSERT_EQ(b.appended[0].type_guid[0], 0); /* the over-long GUID was not read */
	ASSERT_EQ(b.n_entries, 1);
	ASSERT_EQ(b.entries[0].platform, -1);
	ASSERT_TRUE(!b.entries[0].no_emul);
	ASSERT_EQ(media_detect_layout(&b, &l, &found), -EMEDIUMTYPE);
	ASSERT_CONTAINS(found, "platform (emulation) /boot/grub/i386-pc/eltorito.img");
	ASSERT_CONTAINS(found, "0000 end");
	free(found);
	boot_records_release(&b);
}

TEST(kernel_args) {
	char *s = NULL;

	ASSERT_OK(menu_kernel_args("  console=ttyS0 quiet  ---", MEDIA_INSTALLER_SUBIQUITY, true, &s));
	ASSERT_STREQ(s, "console=ttyS0 quiet autoinstall ds=nocloud\\;s=/cdrom/nocloud/ ---");
	free(s);
	ASSERT_OK(menu_kernel_args("initrd=/casper/initrd quiet", MEDIA_INSTALLER_SUBIQUITY, false, &s));
	ASSERT_STREQ(s, "initrd=/casper/initrd quiet autoinstall ds=nocloud;s=/cdrom/nocloud/");
	free(s);
	/* remastering mlrig's own output: the seed arguments stay single */
	ASSERT_OK(menu_kernel_args("quiet autoinstall ds=nocloud\\;s=/cdrom/nocloud/ --- x", MEDIA_INSTALLER_SUBIQUITY,
				   true, &s));
	ASSERT_STREQ(s, "quiet autoinstall ds=nocloud\\;s=/cdrom/nocloud/ --- x");
	free(s);
	ASSERT_OK(menu_kernel_args("file=/cdrom/preseed/ubuntu.seed maybe-ubiquity quiet splash ---",
				   MEDIA_INSTALLER_UBIQUITY, true, &s));
	ASSERT_STREQ(s, "quiet splash file=/cdrom/preseed/mlrig.seed automatic-ubiquity ---");
	free(s);
}

TEST(grub_cfg_entry) {
	const char *cfg = "set timeout=5\nset default=1\n"
			  "menuentry \"Install Ubuntu Server\" {\n\tset gfxpayload=keep\n"
			  "\tlinux\t/casper/vmlinuz   quiet  ---\n\tinitrd\t/casper/initrd\n}\n"
			  "if [ x = y ]; then\nmenuentry 'Other' {\n\tfwsetup\n}\nfi\n";
	char *out = NULL;

	ASSERT_OK(menu_grub_cfg_add_entry(cfg, "mlrig", MEDIA_INSTALLER_SUBIQUITY, &out));
	ASSERT_STREQ(out, "set timeout=5\nset default=0\n"
			  "menuentry \"mlrig\" {\n\tset gfxpayload=keep\n"
			  "\tlinux\t/casper/vmlinuz\tquiet autoinstall ds=nocloud\\;s=/cdrom/nocloud/ ---\n"
			  "\tinitrd\t/casper/initrd\n}\n"
			  "menuentry \"Install Ubuntu Server\" {\n\tset gfxpayload=keep\n"
			  "\tlinux\t/casper/vmlinuz   quiet  ---\n\tinitrd\t/casper/initrd\n}\n"
			  "if [ x = y ]; then\nmenuentry 'Other' {\n\tfwsetup\n}\nfi\n");
	free(out);
	ASSERT_EQ(menu_grub_cfg_add_entry("set timeout=1\n", "mlrig", MEDIA_INSTALLER_SUBIQUITY, &out), -ENOENT);
}

TEST(isolinux_cfg_entry) {
	const char *cfg = "default live\nlabel live\n  menu label ^Install\n  kernel /casper/vmlinuz\n"
			  "  append  initrd=/casper/initrd quiet ---\nlabel other\n  kernel /x\n";
	char *out = NULL;

	ASSERT_OK(menu_isolinux_cfg_add_entry(cfg, "Rig", MEDIA_INSTALLER_SUBIQUITY, &out));
	ASSERT_STREQ(out, "default mlrig\nlabel mlrig\n  menu label ^Rig\n  menu default\n  kernel /casper/vmlinuz\n"
			  "  append  initrd=/casper/initrd quiet autoinstall ds=nocloud;s=/cdrom/nocloud/ ---\n"
			  "label live\n  menu label ^Install\n  kernel /casper/vmlinuz\n"
			  "  append  initrd=/casper/initrd quiet ---\nlabel other\n  kernel /x\n");
	free(out);
	/* the entry is copied from the default label, not the first */
	ASSERT_OK(menu_isolinux_cfg_add_entry("default b\nlabel a\n  kernel /a\nlabel b\n  kernel /b\n  append x\n",
					      "R", MEDIA_INSTALLER_UBIQUITY, &out));
	ASSERT_CONTAINS(out, "label mlrig\n  menu label ^R\n  menu default\n  kernel /b\n"
			     "  append  x file=/cdrom/preseed/mlrig.seed automatic-ubiquity\nlabel a\n");
	free(out);
	ASSERT_EQ(menu_isolinux_cfg_add_entry("default x\n", "R", MEDIA_INSTALLER_UBIQUITY, &out), -ENOENT);
}

/* Label names are compared whole: two that share their first 300 bytes are different labels. */
TEST(isolinux_cfg_long_labels) {
	char name[301], *cfg = NULL, *out = NULL;

	memset(name, 'l', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	ASSERT_TRUE(asprintf(&cfg, "default %sB\nlabel %sA\n  kernel /a\nlabel %sB\n  kernel /b\n", name, name, name) > 0);
	ASSERT_OK(menu_isolinux_cfg_add_entry(cfg, "R", MEDIA_INSTALLER_SUBIQUITY, &out));
	ASSERT_CONTAINS(out, "default mlrig\nlabel mlrig\n  menu label ^R\n  menu default\n  kernel /b\nlabel ");
	free(out);
	free(cfg);
}

TEST(md5sum_update) {
	const char *text = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa  ./.disk/info\n"
			   "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb  ./boot/grub/grub.cfg\n"
			   "cccccccccccccccccccccccccccccccc  ./casper/vmlinuz\n";
	struct md5sum_txt_entry e[] = {
		{ "nocloud/user-data", "11111111111111111111111111111111" },
		{ "boot/grub/grub.cfg", "22222222222222222222222222222222" },
		{ "mlrig/install.sh", "33333333333333333333333333333333" },
	};
	char *out = NULL;

	ASSERT_OK(md5sum_txt_update(text, e, ELEMENTSOF(e), &out));
	ASSERT_STREQ(out, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa  ./.disk/info\n"
			  "22222222222222222222222222222222  ./boot/grub/grub.cfg\n"
			  "cccccccccccccccccccccccccccccccc  ./casper/vmlinuz\n"
			  "33333333333333333333333333333333  ./mlrig/install.sh\n"
			  "11111111111111111111111111111111  ./nocloud/user-data\n");
	free(out);
	/* a list without "./" gets new lines without it */
	ASSERT_OK(md5sum_txt_update("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa  casper/vmlinuz\n", e, 1, &out));
	ASSERT_STREQ(out, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa  casper/vmlinuz\n"
			  "11111111111111111111111111111111  nocloud/user-data\n");
	free(out);
}
