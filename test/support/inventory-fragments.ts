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

/** The login APP_USER_VARS declares, and the environment a run needs for it. */
export const APP_LOGIN = { username: 'app', password: 'App-Pa55-word' };
export const APP_ENV = { APP_PW: APP_LOGIN.password };
