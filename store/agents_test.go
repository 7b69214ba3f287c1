package store

import (
	"context"
	"testing"
)

func TestAgentSuspensionSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t)
	if recs, err := db.AgentRecords(ctx); err != nil || len(recs) != 0 {
		t.Fatalf("records of a new store = %v, %v", recs, err)
	}
	if err := db.SetAgentSuspended(ctx, AgentRecord{Name: "bot", Suspended: true, Reason: "leaked token", By: "ops"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	recs, err := db2.AgentRecords(ctx)
	if err != nil || !recs["bot"].Suspended || recs["bot"].Reason != "leaked token" || recs["bot"].Changed.IsZero() {
		t.Fatalf("after reopen: %+v, %v", recs, err)
	}
	if err := db2.SetAgentSuspended(ctx, AgentRecord{Name: "bot", By: "ops"}); err != nil {
		t.Fatal(err)
	}
	recs, _ = db2.AgentRecords(ctx)
	if recs["bot"].Suspended {
		t.Fatal("restore did not take")
	}
	if err := db2.SetAgentSuspended(ctx, AgentRecord{}); err == nil {
		t.Fatal("a record with no name was accepted")
	}
}
