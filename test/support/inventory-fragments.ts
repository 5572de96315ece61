/**
 * YAML the e2e inventories share, indented for `all: vars:` (4 spaces): one application role on `app/#` and its
 * user, whose password comes from the environment variable APP_PW.
 */
export const APP_USER_VARS = `    mqtt_roles:
      - rolename: app
        acls:
          - { acltype: publishClientSend, topic: "app/#" }
          - { acltype: publishClientReceive, topic: "app/#" }
          - { acltype: subscribePattern, topic: "app/#" }
    mqtt_users:
      - username: app
        password: "{{ lookup('env', 'APP_PW') }}"
        roles: [app]`;
