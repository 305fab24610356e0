# Shared by the agent's boot tests: the test profile's image, built once per test.
# fb_image DIR: builds DIR/fb.img from images/test-firstboot.conf with the fixture wheel.
fb_image() {
	local dir=$1 rootfs wheels
	rootfs=$(rootfs_fixture) || skip "no rootfs fixture (run tests/fixtures/rootfs.sh as root)"
	wheels=$(bash "$REPO/tests/fixtures/wheel.sh") || skip "no wheel fixture"
	cp -r "$REPO/images" "$dir/p"
	cp "$wheels"/*.whl "$dir/p/wheelhouse/"
	"$MLRIG" image -q -p "$dir/p/test-firstboot.conf" --rootfs "$rootfs" -o "$dir/fb.img" 2>"$dir/build.log"
}

# root_offset IMG: byte offset of the root partition
root_offset() {
	echo $(( $(sfdisk --json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][1]["start"])') * 512 ))
}
