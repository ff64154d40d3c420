// docker-compose.cluster.yml's mongo-init, run by mongosh: initiates the replica set
// MONGO_REPLICA_SET with the members MONGO_MEMBERS (comma-separated host:port, the first one
// preferred as primary) unless it is initiated already, then waits until it has one primary and
// every other member is a secondary. Run again, it changes nothing. Exits 1 if that does not
// happen within 5 minutes.
const setName = process.env.MONGO_REPLICA_SET;
const members = process.env.MONGO_MEMBERS.split(",").map((h) => h.trim()).filter(Boolean);
const user = encodeURIComponent(process.env.MONGO_ROOT_USER);
const password = encodeURIComponent(process.env.MONGO_ROOT_PASSWORD);
// the first member directly: until the set is initiated, there is no primary to find
const admin = connect(`mongodb://${user}:${password}@${members[0]}/admin?authSource=admin&directConnection=true`);

function status() {
  try {
    return admin.adminCommand({ replSetGetStatus: 1 });
  } catch (e) {
    if (e.codeName === "NotYetInitialized") return null;
    throw e;
  }
}

if (status() === null) {
  const config = {
    _id: setName,
    members: members.map((host, i) => ({ _id: i, host, priority: i === 0 ? 2 : 1 })),
  };
  try {
    admin.adminCommand({ replSetInitiate: config });
    print(`replica set ${setName} initiated with ${members.join(", ")}`);
  } catch (e) {
    if (e.codeName !== "AlreadyInitialized") throw e;
  }
} else {
  print(`replica set ${setName} already initiated`);
}

const deadline = Date.now() + 5 * 60 * 1000;
for (;;) {
  const s = status();
  const states = s ? s.members.map((m) => m.stateStr) : [];
  const primaries = states.filter((x) => x === "PRIMARY").length;
  const secondaries = states.filter((x) => x === "SECONDARY").length;
  if (primaries === 1 && secondaries === members.length - 1) {
    print(`replica set ${setName}: one primary, ${secondaries} secondaries`);
    quit(0);
  }
  if (Date.now() > deadline) {
    print(`replica set ${setName} not ready: ${states.join(", ")}`);
    quit(1);
  }
  sleep(1000);
}
