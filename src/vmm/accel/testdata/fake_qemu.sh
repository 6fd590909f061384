#!/bin/sh
# A FAKE qemu-system-x86_64, for src/vmm/accel tests only. Why a fake: the
# failures it plays cannot be produced on demand here. A kvm-pvm host (whose
# /dev/kvm opens but cannot run our guest) is not this machine, and a real
# QEMU cannot be made to hang or to abort at will. Each mode plays one thing
# such a host was seen doing (docs/troubleshooting.md, "KVM that opens but cannot boot"):
#   FAKE_QEMU_MODE=hang     QEMU starts, the guest never prints a byte (kvm-pvm, -cpu qemu64)
#   FAKE_QEMU_MODE=partial  the guest prints a line, then hangs before finishing its init
#   FAKE_QEMU_MODE=abort    QEMU aborts on start, as under kvm-pvm with -cpu host / max
# It finds the serial log the way QEMU would: the logfile= of the -chardev option.
log=""
prev=""
for a in "$@"; do
  if [ "$prev" = "-chardev" ]; then
    log=$(printf '%s\n' "$a" | sed -n 's/.*logfile=\([^,]*\).*/\1/p')
  fi
  prev="$a"
done
case "${FAKE_QEMU_MODE:-hang}" in
  hang) exec sleep 600 ;;
  partial)
    printf 'Linux version 6.1.0 (fake)\r\n' >> "$log"
    exec sleep 600 ;;
  abort)
    echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69" >&2
    echo "qemu-system-x86_64: ../../target/i386/kvm/kvm.c:3218: kvm_buf_set_msrs: Assertion \`ret == cpu->kvm_msr_buf->nmsrs' failed." >&2
    kill -ABRT $$ ;;
  *) echo "fake qemu: unknown FAKE_QEMU_MODE" >&2; exit 2 ;;
esac
