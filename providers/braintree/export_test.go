package braintree

// SetWindowIDs lowers the ids a listing window may hold, until the test ends.
func SetWindowIDs(n int) (restore func()) {
	old := windowIDs
	windowIDs = n
	return func() { windowIDs = old }
}
