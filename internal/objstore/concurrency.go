package objstore

// MoveConcurrency is how many moves the protocol (internal/trash) makes at
// once for one delete of many files: each is a copy and a delete over the
// network (three requests, ~15 ms on MinIO), while the bucket serves
// several at once.
func (s *Store) MoveConcurrency() int { return 8 }

// MaxMovesPerRequest is the most files one request may move on a bucket:
// the bulk delete route (internal/catalog) takes no more distinct ids than
// this, where the folder takes the SPEC's 1 000. Each move is three S3
// requests, so a thousand are 3 000 — seconds of MinIO's CPU — and the
// request would outlast REQUEST_TIMEOUT on a loaded machine, ending in a
// commit of unknown outcome and a janitor pass to put the files back.
// README ("The bulk route on a bucket") has the figures this was chosen by.
func (s *Store) MaxMovesPerRequest() int { return MaxMovesPerRequest }

// MaxMovesPerRequest is Store.MaxMovesPerRequest's answer.
const MaxMovesPerRequest = 100
