// One-off set-up of the replica set, run by the mongo-init service of
// compose.yaml (`mongosh --nodb --file`). Safe to run again: it initiates
// rs0 only once and creates the application's user only when missing.
const root = process.env.MONGO_ROOT_PASSWORD;
const appPassword = process.env.MONGO_APP_PASSWORD;
if (!root || !appPassword) {
  throw new Error("MONGO_ROOT_PASSWORD and MONGO_APP_PASSWORD must be set");
}

const admin = connect("mongodb://mongo1:27017/admin?directConnection=true");
admin.auth("root", root);

let initiated = true;
try {
  admin.adminCommand({ replSetGetStatus: 1 });
} catch (error) {
  if (error.codeName !== "NotYetInitialized") throw error;
  initiated = false;
}
if (!initiated) {
  admin.adminCommand({
    replSetInitiate: {
      _id: "rs0",
      members: [
        { _id: 0, host: "mongo1:27017", priority: 2 },
        { _id: 1, host: "mongo2:27017", priority: 1 },
        { _id: 2, host: "mongo3:27017", priority: 1 },
      ],
    },
  });
  print("replica set rs0 initiated");
}

// Users are created on the primary.
for (let waited = 0; !admin.hello().isWritablePrimary; waited += 1) {
  if (waited > 120) throw new Error("mongo1 did not become primary within 60 s");
  sleep(500);
}

// HireMate's own user: read and write its database, nothing else (no
// admin, no other database). Change streams need only read.
const hiremate = admin.getSiblingDB("hiremate");
if (hiremate.getUser("hiremate") === null) {
  hiremate.createUser({ user: "hiremate", pwd: appPassword, roles: [{ role: "readWrite", db: "hiremate" }] });
  print("user hiremate created");
} else {
  hiremate.updateUser("hiremate", { pwd: appPassword, roles: [{ role: "readWrite", db: "hiremate" }] });
  print("user hiremate updated");
}
