package cli

// rawTerminal does nothing on Windows: input goes through line by line.
func (a *app) rawTerminal(bool, *sender) func() { return func() {} }
