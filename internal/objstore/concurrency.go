package objstore

// MoveConcurrency is how many moves the protocol (internal/trash) makes at
// once for one delete of many files: each is a copy and a delete over the
// network (~17 ms on MinIO), so a thousand in turn would outlast
// REQUEST_TIMEOUT, while the bucket serves several at once.
func (s *Store) MoveConcurrency() int { return 8 }
