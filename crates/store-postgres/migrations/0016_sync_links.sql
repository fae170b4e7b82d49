-- What OpenZero's boards, lists and cards are called in another service
-- (Planka) and what both sides agreed on at the last sync (`base`, JSON
-- written by the sync). A record is linked at most once per service.
CREATE TABLE sync_links (
    service TEXT NOT NULL,
    kind TEXT NOT NULL,
    local_id BIGINT NOT NULL,
    remote_id TEXT NOT NULL,
    base TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (service, kind, local_id)
);
CREATE UNIQUE INDEX sync_links_remote ON sync_links (service, kind, remote_id);
