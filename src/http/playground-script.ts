// The playground page's own script, served as a file (not inline) so the page's
// Content-Security-Policy can allow scripts from 'self' only. It runs in the browser after the UMD
// builds of React, graphql-ws and GraphiQL have set their globals, and renders GraphiQL with a
// fetcher that sends queries and mutations over HTTP POST and subscriptions over the graphql-ws
// websocket on the same path. Plain ES2017 in a string: no bundler, nothing to compile at run time.

/** What the query editor shows on a first visit (GraphiQL remembers edits in localStorage). */
export const PLAYGROUND_DEFAULT_QUERY = `# Streamgate playground: served by this gateway,
# nothing loaded from elsewhere. Queries and mutations
# go over HTTP POST, subscriptions over the websocket
# on the same URL. To act as a user, run the login
# mutation and put its token under Headers below:
#   { "Authorization": "Bearer <token>" }
# It is sent with every request, and to the websocket
# as its connectionParams.

query Products {
  products(first: 3) {
    edges {
      node { id name priceCents stock }
    }
  }
}

subscription Clock {
  serverTime
}
`;

export const PLAYGROUND_SCRIPT = `(function () {
  'use strict';
  var container = document.getElementById('graphiql');
  var endpoint = new URL(container.getAttribute('data-endpoint'), window.location.href);
  var socketUrl = new URL(endpoint.href);
  socketUrl.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';

  function authorizationOf(headers) {
    var names = Object.keys(headers || {});
    for (var i = 0; i < names.length; i++) {
      if (names[i].toLowerCase() === 'authorization') return String(headers[names[i]]);
    }
    return '';
  }

  // The gateway reads a websocket's session once, from connection_init
  // (connectionParams.authorization), so each Authorization value gets its own client;
  // the previous one is disposed. Clients are lazy: a socket is open only while a
  // subscription runs.
  var current = null;
  function fetcherFor(authorization) {
    if (current === null || current.authorization !== authorization) {
      if (current !== null) current.wsClient.dispose();
      var wsClient = graphqlWs.createClient({
        url: socketUrl.href,
        connectionParams: authorization ? { authorization: authorization } : {},
      });
      current = {
        authorization: authorization,
        wsClient: wsClient,
        fetcher: GraphiQL.createFetcher({ url: endpoint.href, wsClient: wsClient, enableIncrementalDelivery: false }),
      };
    }
    return current.fetcher;
  }

  ReactDOM.createRoot(container).render(
    React.createElement(GraphiQL, {
      fetcher: function (params, options) {
        return fetcherFor(authorizationOf(options && options.headers))(params, options);
      },
      defaultQuery: ${JSON.stringify(PLAYGROUND_DEFAULT_QUERY)},
      // Left unset, shouldPersistHeaders keeps headers (tokens) out of localStorage until the
      // user turns "persist headers" on in the settings dialog.
      isHeadersEditorEnabled: true,
      visiblePlugin: 'Documentation Explorer',
    }),
  );
})();
`;
