// Package layout holds the tests of the repository's layering and size
// rules; it has no code of its own.
package layout
