-- A number that changes whenever something intake remembers between batches may have changed
-- behind its back: an incident resolved, or a service, an integration or a maintenance window
-- written. Intake reads it as each batch begins. While it stays the same, the routes and the
-- open incidents intake remembers are still right, and need not be read or checked again.
-- Triggers keep it, so that no writer, in this process or another, can forget to.
CREATE TABLE paging_revision (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL
);
INSERT INTO paging_revision (id, revision) VALUES (1, 0);

CREATE TRIGGER paging_revision_incident_resolved AFTER UPDATE OF status ON incidents
WHEN NEW.status = 'resolved' AND OLD.status <> 'resolved'
BEGIN UPDATE paging_revision SET revision = revision + 1; END;

CREATE TRIGGER paging_revision_service_inserted AFTER INSERT ON services
BEGIN UPDATE paging_revision SET revision = revision + 1; END;
CREATE TRIGGER paging_revision_service_updated AFTER UPDATE ON services
BEGIN UPDATE paging_revision SET revision = revision + 1; END;
CREATE TRIGGER paging_revision_service_deleted AFTER DELETE ON services
BEGIN UPDATE paging_revision SET revision = revision + 1; END;

CREATE TRIGGER paging_revision_integration_inserted AFTER INSERT ON integrations
BEGIN UPDATE paging_revision SET revision = revision + 1; END;
CREATE TRIGGER paging_revision_integration_updated AFTER UPDATE ON integrations
BEGIN UPDATE paging_revision SET revision = revision + 1; END;
CREATE TRIGGER paging_revision_integration_deleted AFTER DELETE ON integrations
BEGIN UPDATE paging_revision SET revision = revision + 1; END;

CREATE TRIGGER paging_revision_maintenance_inserted AFTER INSERT ON maintenance_windows
BEGIN UPDATE paging_revision SET revision = revision + 1; END;
CREATE TRIGGER paging_revision_maintenance_updated AFTER UPDATE ON maintenance_windows
BEGIN UPDATE paging_revision SET revision = revision + 1; END;
CREATE TRIGGER paging_revision_maintenance_deleted AFTER DELETE ON maintenance_windows
BEGIN UPDATE paging_revision SET revision = revision + 1; END;
