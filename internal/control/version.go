package control

// changedSince reports whether $LATEST (latest) changed since version v was
// published from it, which is when PublishVersion makes a new version.
//
// AWS (PublishVersion, API reference and the model's documentation): "Lambda
// doesn't publish a version if the function's configuration and code haven't
// changed since the last version." The Description given to PublishVersion
// only labels the version ("A description for the version to override the
// description in the function configuration"), so it is not part of the
// comparison; $LATEST's own Description is configuration, so changing it
// (UpdateFunctionConfiguration) is a change.
//
// A version's Description is either $LATEST's at publish time or the
// override. $LATEST's Description counts as changed when it differs from the
// version's and $LATEST was modified after the version was published (an
// override leaves $LATEST older than the version).
func changedSince(v, latest Config) bool {
	if !sameCode(v, latest) {
		return true
	}
	return latest.Description != v.Description && latest.LastModified.After(v.LastModified)
}
