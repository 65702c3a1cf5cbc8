package vmtest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestRefusalReason: the kernel's log lines of a refused load (as 6.1
// and 6.12 print them) name the check it failed, the earliest in the
// kernel's order when several are logged.
func TestRefusalReason(t *testing.T) {
	for _, tc := range []struct {
		lines []string
		want  string
	}{
		{[]string{"module dummy: .gnu.linkonce.this_module section size must match the kernel's built struct module size at run time"}, ReasonStruct},
		{[]string{"dummy: disagrees about version of symbol module_layout"}, ReasonCRC},
		{[]string{"dummy: disagrees about version of symbol alloc_netdev_mqs", "dummy: Unknown symbol alloc_netdev_mqs (err -22)"}, ReasonCRC},
		{[]string{"dummy: version magic '6.12.118+deb13-amd64 SMP preempt mod_unlaod modversions ' should be '6.12.118+deb13-amd64 SMP preempt mod_unload modversions '"}, ReasonVermagic},
		{[]string{"ums_alauda: module uses symbol (usb_stor_bulk_srb) from namespace USB_STORAGE, but does not import it.", "ums_alauda: Unknown symbol usb_stor_bulk_srb (err -22)"}, ReasonNamespace},
		{[]string{"dummy: module license 'XPL' taints kernel.", "dummy: Unknown symbol __alloc_percpu_gfp (err -2)"}, ReasonUnknown},
		{[]string{"something else"}, ReasonOther},
		{nil, ReasonOther},
	} {
		assert.Equal(t, tc.want, RefusalReason(tc.lines), "%q", tc.lines)
	}
}
