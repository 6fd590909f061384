import assert from "node:assert/strict";
import { resolveSetupOptions } from "./options.ts";
import { renderSysctl, renderUnit, UNIT_MARKER } from "./unit.ts";

const options = resolveSetupOptions({}, () => undefined, "/");

Deno.test("unit: runs the given volantd with the installed artifacts, keeps VMs on stop", () => {
  const u = renderUnit({ options, volantd: "/usr/local/bin/volantd" });
  assert.ok(u.startsWith(UNIT_MARKER + "\n[Unit]\n"));
  assert.match(
    u,
    /^ExecStart=\/usr\/local\/bin\/volantd --state-dir \/var\/lib\/volant --runtime-dir \/run\/volant\/vms --bridge vbr0 --subnet 192\.168\.127\.0\/24 --kernel \/var\/lib\/volant\/kernel\/vmlinux --agent-image \/var\/lib\/volant\/agent\/agent\.img --boot-initramfs \/var\/lib\/volant\/agent\/boot\.cpio\.gz$/m,
  );
  assert.match(u, /^KillMode=process$/m);
  assert.match(u, /^RuntimeDirectoryPreserve=yes$/m);
  assert.match(u, /^CacheDirectory=volant$/m);
  assert.match(u, /^ProtectSystem=strict$/m);
  assert.match(
    u,
    /^ReadWritePaths=-\/var\/lib\/volant -\/run\/volant -\/run\/volant\/vms -\/var\/log\/volant$/m,
  );
  // Nothing that would take away /dev/kvm, /dev/net/tun or JIT memory.
  assert.doesNotMatch(u, /PrivateDevices|MemoryDenyWriteExecute|DevicePolicy/);
  assert.doesNotMatch(u, /VOLANT_DENO/);
  assert.match(
    renderUnit({ options, volantd: "/x", deno: "/usr/bin/deno" }),
    /^Environment=VOLANT_DENO=\/usr\/bin\/deno$/m,
  );
  assert.equal(renderUnit({ options, volantd: "/x" }), renderUnit({ options, volantd: "/x" }));
});

Deno.test("unit: ProtectHome stays readable when Deno or volantd lives under a home", () => {
  assert.match(renderUnit({ options, volantd: "/usr/local/bin/volantd" }), /^ProtectHome=yes$/m);
  assert.match(
    renderUnit({ options, volantd: "/usr/local/bin/volantd", deno: "/root/.deno/bin/deno" }),
    /^ProtectHome=read-only$/m,
  );
  assert.match(renderUnit({ options, volantd: "/home/u/bin/volantd" }), /^ProtectHome=read-only$/m);
});

Deno.test("sysctl file: ip_forward on", () => {
  assert.match(renderSysctl(), /^net\.ipv4\.ip_forward = 1$/m);
});
