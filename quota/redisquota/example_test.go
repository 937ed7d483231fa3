package redisquota_test

import (
	"log"

	"github.com/tollgate-dev/tollgate/quota/redisquota"
)

// Instances that pass the same account, region, model and scope share one quota.
func ExampleNew() {
	client, err := redisquota.Dial("redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	store, err := redisquota.New(redisquota.Options{
		Client:  client,
		Account: "111122223333",
		Region:  "us-east-1",
		Model:   "anthropic.claude-sonnet-4-5",
		Scope:   "gateway",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	// Pass store to a quota.Limiter as its Store; Status reports an outage of Redis.
	_ = store.Status()
}
